"""Every DBC message is sent by the code of its sender node, and only by it, and decoded by
the code of every receiver node: all cores run on one in-process wire for three seconds."""

from collections import Counter, defaultdict

from bms.settings import load_settings
from dbc.codec import pack_codec
from sim.lockstep import LockstepPack
from sim.observer import PackObserver


def test_every_message_has_its_senders_and_receivers_in_the_code() -> None:
    settings = load_settings(None, ["pack.modules=2"])
    codec = pack_codec()
    pack = LockstepPack(settings, codec)
    observer = PackObserver(settings, codec, 0.0)
    pack.listeners.append(observer)
    sent_by: dict[str, set[str]] = defaultdict(set)
    for item in pack.run(3.0):
        layout, _ = codec.lookup(item.frame.arbitration_id, item.frame.is_extended_id)
        sent_by[layout.name].add(item.node)

    master, slaves = pack.master, pack.slaves
    decoded_by = {"Master": master.receiver.decoded, "Observer": observer.receiver.decoded,
                  "Slave": sum((s.receiver.decoded for s in slaves), Counter())}
    for name, layout in codec.layouts.items():
        assert sent_by[name] == set(layout.senders), f"{name} sent by {sent_by[name]}"
        for node in layout.receivers:
            assert decoded_by[node][name] > 0, f"{node} never decoded {name}"
    # what the master and the slaves decode, they also handle
    assert master.statistics.frames_ignored == 0
    assert all(s.statistics.frames_ignored == 0 for s in slaves)
    assert master.state.name == "STANDBY"
    assert sum(master.receiver.failures.values()) == 0
    assert master.receiver.total_statistics().errors == 0


def test_lockstep_is_deterministic() -> None:
    settings = load_settings(None, ["pack.modules=2"])
    first = [(f.time_s, f.node, f.frame) for f in LockstepPack(settings, pack_codec()).run(2.0)]
    again = [(f.time_s, f.node, f.frame) for f in LockstepPack(settings, pack_codec()).run(2.0)]
    assert first == again
    assert len(first) > 500
