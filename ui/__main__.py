from ui.cli import cli

cli()
