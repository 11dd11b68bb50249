"""The store's commands, one module each (`HELP`, `add_arguments`, `run`), imported by
`features.cli` only when named, so a stage never loads them."""
