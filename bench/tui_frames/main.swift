print("tui-bench")
