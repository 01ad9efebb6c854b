"""One or more representative instances of every typed frame, for round-trip tests."""

from dbc.frames import (
    AfeState,
    BalancingCommand,
    CellTemperatures,
    CellVoltageExtremes,
    CellVoltages,
    Frame,
    MasterHeartbeat,
    MasterState,
    MasterSummary,
    ModuleFault,
    ModulesLostMask,
    ModulesOnlineMask,
    ModulesStaleMask,
    ModuleStatus,
    PackAverages,
)
from dbc.ivt import (
    IvtCharge,
    IvtCurrent,
    IvtEnergy,
    IvtFlag,
    IvtPower,
    IvtTemperature,
    IvtVoltage1,
    IvtVoltage2,
    IvtVoltage3,
)

SAMPLES: list[tuple[Frame, int]] = [
    (MasterHeartbeat(MasterState.STANDBY, balancing_allowed=True), 0),
    (MasterHeartbeat(MasterState.ERROR, balancing_allowed=False), 0),
    (BalancingCommand(0b10_0000_0000_0000_0101, 120), 31),
    (BalancingCommand(0, 0), 0),
    (ModuleStatus(AfeState.MEASURING, 0x3FFFF, 67.12, ModuleFault.NONE), 5),
    (ModuleStatus(AfeState.FAULT, 0, 0.0, ModuleFault.AFE_COMM | ModuleFault.INTERNAL), 0),
    (CellVoltages(0, (3700, 3701, None, 4594)), 0),
    (CellVoltages(16, (500, 2512, None, None)), 31),
    (CellTemperatures(0, (25.0, -40.5, None, 85.3)), 2),
    (CellTemperatures(12, (359.4, -50.0, 0.1, None)), 31),
    (MasterSummary(MasterState.NORMAL, 16, 0, 0, 921.4, 0), 0),
    (MasterSummary(MasterState.INIT, 3, 2, 11, 0.0, 1023), 0),
    (CellVoltageExtremes(3100, 4, 17, 4190, 31, 0), 0),
    (CellVoltageExtremes(None, 0, 0, None, 0, 0), 0),
    (PackAverages(3650, -10.5, 45.1, 7), 0),
    (PackAverages(None, None, None, 0), 0),
    (ModulesOnlineMask(0xFFFFFFFF), 0),
    (ModulesStaleMask(1 << 7), 0),
    (ModulesLostMask(0), 0),
    (IvtCurrent(2, IvtFlag.OVER_CURRENT, -1000), 0),
    (IvtCurrent(15, IvtFlag.NONE, 2_000_000), 0),
    (IvtVoltage1(1, IvtFlag.NONE, 473_215), 0),
    (IvtVoltage2(3, IvtFlag.CHANNEL_ERROR, 0), 0),
    (IvtVoltage3(4, IvtFlag.NONE, -12), 0),
    (IvtTemperature(5, IvtFlag.SYSTEM_ERROR, 23.4), 0),
    (IvtPower(6, IvtFlag.NONE, -4_731), 0),
    (IvtCharge(7, IvtFlag.MEASUREMENT_ERROR, 123_456), 0),
    (IvtEnergy(8, IvtFlag.NONE, -77), 0),
]

from dbc.frames import ContactorCommand, ContactorFeedback, Contactors  # noqa: E402
from dbc.sim_frames import (  # noqa: E402
    CellQuantity,
    ContactorFault,
    ContactorId,
    InjectCell,
    InjectContactor,
    InjectCurrent,
    InjectSensor,
    InjectSlave,
    LoadDemand,
    SensorFault,
    SlaveFault,
    VcuCommand,
    VcuCommandRequest,
)
from dbc.vehicle_frames import BmsStatus, RequestedState, VcuRequest  # noqa: E402

SAMPLES += [
    (ContactorCommand(Contactors(main_minus=True, precharge=True)), 0),
    (ContactorCommand(Contactors()), 0),
    (ContactorFeedback(Contactors(True, True, False), False, 473.2), 0),
    (ContactorFeedback(Contactors(), True, 0.0), 0),
]
VEHICLE_SAMPLES: list[tuple[Frame, int]] = [
    (VcuRequest(RequestedState.DRIVE), 0),
    (VcuRequest(RequestedState.STANDBY, reset_faults=True, service_reset=True), 0),
    (BmsStatus(MasterState.ERROR, Contactors(main_plus=True), True, True, 61,
               frozenset({"Slave", "Contactor"}), frozenset({"Plausibility"})), 0),
    (BmsStatus(MasterState.NORMAL, Contactors(True, True, False), False, False, 0,
               frozenset(), frozenset()), 0),
]
SIM_SAMPLES: list[tuple[Frame, int]] = [
    (InjectCell(3, 17, CellQuantity.VOLTAGE, 4300.0, 12.5), 0),
    (InjectCell(31, 7, CellQuantity.TEMPERATURE, -21.5, 0.0), 0),
    (InjectCell(0, 0, CellQuantity.CLEAR, 0.0, 0.0), 0),
    (InjectCell(2, 4, CellQuantity.INVALID, 0.0, 3.0), 0),
    (InjectSlave(5, SlaveFault.STUCK_COUNTER, 2.0), 0),
    (InjectSensor(SensorFault.OFFSET_VOLTAGE, 0.0, -4.5), 0),
    (InjectContactor(ContactorId.PRECHARGE, ContactorFault.FAILS_TO_CLOSE, 1.0), 0),
    (InjectCurrent(-123.45, 0.5), 0),
    (VcuCommand(VcuCommandRequest.CHARGE, True, False, 2.5), 0),
    (LoadDemand(-25.0), 0),
]
