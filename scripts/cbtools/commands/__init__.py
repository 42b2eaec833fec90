"""The command lines of the entry points in scripts/: each a main(argv=None) returning the exit
status."""
