print("wal-fetch: not built yet")
