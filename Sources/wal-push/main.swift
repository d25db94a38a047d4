print("wal-push: not built yet")
