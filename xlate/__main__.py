from xlate.cli import entry

entry()
