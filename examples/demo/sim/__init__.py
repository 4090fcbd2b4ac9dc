"""A tiny particle simulation used by the bathos demo."""
