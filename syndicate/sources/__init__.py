"""Sources: ``registry`` reads feeds/*.toml into the database; ``export`` writes a city's sources back;
``service`` registers, changes and retires sources (the API, the console and the CLI share it); ``opml`` imports and exports."""
