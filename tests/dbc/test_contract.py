"""The DBC files are the contract: strict loading, complete attributes, typed frames for
every message, exact round trips, enums equal to the value tables."""

import enum
import functools
import re
from collections.abc import Callable

import cantools
import pytest

from bms.settings import MAX_CELLS_PER_MODULE, MAX_MODULES, MAX_TEMPERATURE_SENSORS_PER_MODULE
from dbc.codec import Codec, inverter_codec, pack_codec, sim_codec, vehicle_codec
from dbc.database import (
    ALL_DBCS,
    INVERTER_DBCS,
    PACK_DBC,
    THIRD_PARTY_DBCS,
    dbc_path,
    load_database,
    load_file,
)
from dbc.endpoint import FrameReceiver, FrameSender
from dbc.errors import ContractError
from dbc.frames import AfeState, CellTemperatures, CellVoltages, Frame, MasterState
from dbc.inverter_pylon_hv_frames import PylonHvBasicStatus, PylonHvRequestKind
from dbc.sim_frames import (
    CellQuantity,
    ContactorFault,
    ContactorId,
    SensorFault,
    SlaveFault,
    VcuCommandRequest,
)
from dbc.vehicle_frames import RequestedState
from tests.dbc.samples import INVERTER_SAMPLES, SAMPLES, SIM_SAMPLES, VEHICLE_SAMPLES

CODECS: dict[str, Callable[[], Codec]] = {
    "pack": pack_codec, "vehicle": vehicle_codec, "sim": sim_codec,
    **{f"inverter:{protocol}": functools.partial(inverter_codec, protocol)
       for protocol in INVERTER_DBCS}}
ALL_SAMPLES = [(bus, frame, module) for bus, samples in
               (("pack", SAMPLES), ("vehicle", VEHICLE_SAMPLES), ("sim", SIM_SAMPLES),
                *((f"inverter:{p}", s) for p, s in INVERTER_SAMPLES.items()))
               for frame, module in samples]


@pytest.mark.parametrize("name", ALL_DBCS)
def test_every_dbc_loads_strictly_and_survives_a_dump(name: str) -> None:
    db = load_database(name)
    # a round trip through cantools' own DBC writer keeps every message and signal
    again = cantools.database.load_string(db.as_dbc_string(), "dbc", strict=True)
    assert [m.name for m in again.messages] == [m.name for m in db.messages]
    for before, after in zip(db.messages, again.messages, strict=True):
        assert sorted(s.name for s in before.signals) == sorted(s.name for s in after.signals)
        assert before.frame_id == after.frame_id


@pytest.mark.parametrize("name", ALL_DBCS)
def test_every_message_is_documented_and_periodic(name: str) -> None:
    db = load_database(name)
    nodes = {node.name for node in db.nodes}
    for message in db.messages:
        send_type = message.dbc.attributes.get("GenMsgSendType")
        spontaneous = send_type is not None and send_type.value == 1
        assert message.cycle_time or spontaneous, f"{message.name}: GenMsgCycleTime missing"
        assert message.comment, f"{message.name}: no comment"
        assert message.senders, message.name
        assert set(message.senders) <= nodes, message.name
        for signal in message.signals:
            assert signal.receivers, f"{message.name}.{signal.name}: no receiver"
            assert set(signal.receivers) <= nodes, f"{message.name}.{signal.name}"
            if signal.scale != 1 or signal.offset != 0:
                assert signal.unit, f"{message.name}.{signal.name}: scaled signal without unit"


def test_pack_bus_is_500k_classic_can_with_11_bit_ids() -> None:
    db = load_database(PACK_DBC)
    assert db.dbc.attributes["Baudrate"].value == 500_000
    for message in db.messages:
        assert not message.is_extended_frame
        assert not message.is_fd
        assert message.length <= 8


@pytest.mark.parametrize("bus", ["pack", "vehicle"])
def test_every_protected_message_has_the_profile_1_layout(bus: str) -> None:
    third_party = {m.name for name in THIRD_PARTY_DBCS for m in load_database(name).messages}
    for name, layout in CODECS[bus]().layouts.items():
        if name in third_party:
            assert not layout.e2e_protected, name  # other people's protocols have no E2E
        else:
            assert layout.e2e_protected, name


def test_the_simulation_bus_is_not_protected() -> None:
    assert not any(layout.e2e_protected for layout in sim_codec().layouts.values())


@pytest.mark.parametrize("bus", sorted(CODECS))
def test_every_message_has_a_typed_frame_and_every_frame_a_sample(bus: str) -> None:
    codec = CODECS[bus]()
    typed_messages = {t.MESSAGE for t in codec.frame_types}
    assert typed_messages == set(codec.layouts)
    sampled = {type(frame) for b, frame, _ in ALL_SAMPLES if b == bus}
    assert sampled == set(codec.frame_types)


@pytest.mark.parametrize(("bus", "frame", "module_id"), ALL_SAMPLES,
                         ids=lambda v: type(v).__name__ if not isinstance(v, (str, int)) else "")
def test_round_trip(bus: str, frame: Frame, module_id: int) -> None:
    codec = CODECS[bus]()
    layout = codec.layout_of(type(frame))
    node = sorted(layout.receivers)[0]
    sender, receiver = FrameSender(codec), FrameReceiver(codec, 2, node=node)
    encoded = sender.encode(frame, module_id)
    assert len(encoded.data) == layout.length
    reception = receiver.receive(encoded)
    assert reception is not None
    assert reception.module_id == module_id
    assert reception.frame == frame


@pytest.mark.parametrize(
    ("enum_type", "bus", "message", "signal"),
    [
        (MasterState, "pack", "MasterHeartbeat", "MasterState"),
        (MasterState, "pack", "MasterStatus", "MasterState"),
        (AfeState, "pack", "ModuleStatus", "AfeState"),
        (MasterState, "vehicle", "BmsStatus", "BmsState"),
        (RequestedState, "vehicle", "VcuRequest", "RequestedState"),
        (CellQuantity, "sim", "SimInjectCell", "Quantity"),
        (SlaveFault, "sim", "SimInjectSlave", "Action"),
        (SensorFault, "sim", "SimInjectSensor", "Action"),
        (ContactorId, "sim", "SimInjectContactor", "Contactor"),
        (ContactorFault, "sim", "SimInjectContactor", "Fault"),
        (VcuCommandRequest, "sim", "SimVcuCommand", "Request"),
        (PylonHvRequestKind, "inverter:pylon_hv", "PylonHvRequest", "Request"),
        (PylonHvBasicStatus, "inverter:pylon_hv", "PylonHvAlarms", "BasicStatus"),
    ],
)
def test_enums_equal_the_value_tables(enum_type: type[enum.Enum], bus: str, message: str,
                                     signal: str) -> None:
    table = CODECS[bus]().layout(message).choices(signal)
    as_enum = {re.sub(r"(?<!^)(?=[A-Z])", "_", label).upper(): raw for raw, label in table.items()}
    assert as_enum == {member.name: member.value for member in enum_type}


def test_settings_bounds_fit_the_dbc() -> None:
    codec = pack_codec()
    for name in ("CellVoltages", "CellTemperatures", "ModuleStatus", "BalancingCommand"):
        assert codec.layout(name).module_id_range == MAX_MODULES
    cells = codec.layout_of(CellVoltages).indexed_signals(CellVoltages.PREFIX)
    sensors = codec.layout_of(CellTemperatures).indexed_signals(CellTemperatures.PREFIX)
    assert len(cells) >= MAX_CELLS_PER_MODULE
    assert len(sensors) >= MAX_TEMPERATURE_SENSORS_PER_MODULE
    assert codec.layout("BalancingCommand").signal("BalancingCells").length >= MAX_CELLS_PER_MODULE


def test_resolution_required_by_the_contract() -> None:
    codec = pack_codec()
    voltages = codec.layout_of(CellVoltages)
    temperatures = codec.layout_of(CellTemperatures)
    assert all(voltages.resolution(n) <= 1.0 and voltages.signal(n).unit == "mV"
               for n in voltages.indexed_signals("CellVoltage").values())
    assert all(temperatures.resolution(n) <= 0.5 and temperatures.signal(n).unit == "degC"
               for n in temperatures.indexed_signals("Temperature").values())
    for layout, prefix in ((voltages, "CellVoltage"), (temperatures, "Temperature")):
        assert all(layout.invalid_value(n) is not None
                   for n in layout.indexed_signals(prefix).values())


def test_default_periods_equal_the_dbc_cycle_times() -> None:
    from bms.settings import Settings

    settings = Settings()
    codec = pack_codec()
    assert codec.layout("CellVoltages").cycle_time_s == settings.slave.measurement_period_s
    assert codec.layout("CellTemperatures").cycle_time_s == settings.slave.temperature_period_s
    assert codec.layout("ModuleStatus").cycle_time_s == settings.slave.status_period_s
    assert codec.layout("MasterHeartbeat").cycle_time_s == settings.master.heartbeat_period_s
    assert codec.layout("MasterStatus").cycle_time_s == settings.master.status_period_s
    sensor = settings.sim.current_sensor
    assert codec.layout("IVT_Msg_Result_I").cycle_time_s == sensor.current_period_s


def _pack_dbc_with(old: str, new: str, tmp_path_factory: pytest.TempPathFactory) -> Codec:
    text = dbc_path(PACK_DBC).read_text()
    assert old in text
    text = text.replace(old, new)
    path = tmp_path_factory.mktemp("dbc") / "broken.dbc"
    path.write_text(text)
    return Codec([load_file(path)], [])


def test_misplaced_crc_is_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(ContractError, match="E2E_CRC must fill byte 0"):
        _pack_dbc_with(
            "BO_ 32 MasterHeartbeat: 4 Master\n SG_ E2E_CRC : 0|8@1+",
            "BO_ 32 MasterHeartbeat: 4 Master\n SG_ E2E_CRC : 24|8@1+",
            tmp_path_factory,
        )


def test_overlapping_module_id_ranges_are_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(ContractError, match="share CAN ids"):
        # move the heartbeat (id 32) into the id block of the slaves' ModuleStatus
        _pack_dbc_with(" 32 ", " 1601 ", tmp_path_factory)
