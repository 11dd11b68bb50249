"""DVC stages, classifier heads and analyses on top of the `features` library."""
