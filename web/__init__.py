"""`bms web`: the packs' dashboard in a browser, its history and its alarms (docs/web.md)."""
