"""The pages of `bth view` (served from the catalog while you look) and `bth report` (one
self-contained HTML file): the same templates for both, built in `bathos.pages.pages`, with charts
drawn as inline SVG (`bathos.pages.charts`) and the runs table's script and styles shipped in
`static/`, inlined into every page, so nothing is ever loaded from the network."""
