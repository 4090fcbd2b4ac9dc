"""Remotes: other catalogs reached over SSH, and syncing runs with them (docs/sync.md).

    registry.py   where remotes are kept: a project's `.bth.toml`, the user's config.toml
    files.py      the file operations a sync needs, on this machine's catalog
    ssh.py        the same over SFTP (the only paramiko import): host keys, login, errors
    sync.py       what moves and how it lands: `sync`, `test_remote`
"""
