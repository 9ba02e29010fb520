"""Real-format dataset readers, and seeded generators that write embedded data in those same formats."""
