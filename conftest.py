pytest_plugins = ["accelbench.plugin"]
