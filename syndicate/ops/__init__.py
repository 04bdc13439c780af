"""Operations: ``status`` holds the one model of a source's state and the system summary; ``dashboard`` the /ops
queries; ``metrics`` Prometheus; ``alerts``, ``queues`` and ``workers`` watch the broker and worker processes;
``maintenance`` prunes and vacuums."""
