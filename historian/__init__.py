"""`bms historian`: the packs' MQTT telemetry into one time-series database (docs/historian.md).

A process of its own, beside a fleet broker that the packs' brokers bridge into: it
subscribes with QoS 1 and a persistent session, turns each message into a row (`rows`),
keeps what the configuration downsamples away out, and writes batches into PostgreSQL
(`postgres`: time-partitioned tables, COPY, retention) or, with no server configured,
SQLite (`sqlite`). Every row has a key the outbox's resends repeat ((pack, t); events
(pack, id)), so a message written twice is stored once.
"""
