"""The ``vidatlas`` command: one entry point that assembles the subcommands each package offers
(``indexer``: index; ``service``: serve and the client; ``viewer``: map, poster, view) plus the
demo, which spans them."""
