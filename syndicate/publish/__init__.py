"""Publish: ``feeds`` queries and renders merged feeds (RSS, Atom, JSON Feed); ``index`` lists them;
``websub`` is the hub that pushes changed feeds to subscribers."""
