"""Dedupe: one row per (source, item), one cluster per story.

``store`` writes a refresh's documents; ``rules`` says when two items are the same item or the same story;
``batch`` applies the rules to a group of documents at once; ``clusters`` keeps each story's members and
representative; ``boilerplate`` learns a source's repeated passages; ``tombstones`` remembers deleted items.
"""
