/*
 * A microcontroller slave's cell-voltage frame, end to end: fill the generated struct,
 * pack it, protect it, print it as candump would (ID#DATA). The tests compile this with
 * the system C compiler and compare its frames with the Python slave's.
 *
 *   example_slave MODULE GROUP COUNTER MV0 MV1 MV2 MV3   one CellVoltages frame
 *   example_slave --self-test                            the E2E vectors of PROTOCOLS.md
 *
 * Build: bms dbc c-source --out build/mcu
 *        cc -Ibuild/mcu -Ideploy/mcu build/mcu/pack.c deploy/mcu/bms_e2e.c \
 *           deploy/mcu/example_slave.c -o build/mcu/example_slave
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms_e2e.h"
#include "pack.h"

static int self_test(void)
{
    /* captured vehicle frames, DataID 0x00A6: counter 0 gives 0x57, counter 1 gives 0x0A */
    uint8_t frame[8] = {0x00, 0x00, 0x00, 0xC0, 0xF0, 0xC1, 0xFF, 0xFF};
    int failures = 0;
    bms_e2e_protect(frame, sizeof frame, 0x00A6u, 0u);
    failures += frame[0] != 0x57u;
    bms_e2e_protect(frame, sizeof frame, 0x00A6u, 1u);
    failures += frame[0] != 0x0Au;
    failures += bms_e2e_protect(frame, sizeof frame, 0x00A6u, 15u) != -1;
    failures += bms_e2e_next_counter(14u) != 0u;
    printf("%s\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}

int main(int argc, char *argv[])
{
    if (argc == 2 && strcmp(argv[1], "--self-test") == 0) {
        return self_test();
    }
    if (argc != 8) {
        fprintf(stderr, "usage: %s MODULE GROUP COUNTER MV0 MV1 MV2 MV3 | --self-test\n",
                argv[0]);
        return 2;
    }
    unsigned module_id = (unsigned)strtoul(argv[1], NULL, 0);
    unsigned group = (unsigned)strtoul(argv[2], NULL, 0);
    uint8_t counter = (uint8_t)strtoul(argv[3], NULL, 0);
    uint16_t raw[4];
    for (int i = 0; i < 4; i++) {
        double cell_mv = strtod(argv[4 + i], NULL);
        if (!pack_cell_voltages_cell_voltage00_is_in_range(
                pack_cell_voltages_cell_voltage00_encode(cell_mv))) {
            fprintf(stderr, "cell voltage %s mV out of the frame's range\n", argv[4 + i]);
            return 2;
        }
        raw[i] = pack_cell_voltages_cell_voltage00_encode(cell_mv);
    }

    struct pack_cell_voltages_t frame;
    pack_cell_voltages_init(&frame);
    frame.cell_group = (uint8_t)group;
    /* the generated struct has one member per cell of every group; the group's four
     * members are the ones the multiplexer selects */
    uint16_t *cells[5][4] = {
        {&frame.cell_voltage00, &frame.cell_voltage01, &frame.cell_voltage02, &frame.cell_voltage03},
        {&frame.cell_voltage04, &frame.cell_voltage05, &frame.cell_voltage06, &frame.cell_voltage07},
        {&frame.cell_voltage08, &frame.cell_voltage09, &frame.cell_voltage10, &frame.cell_voltage11},
        {&frame.cell_voltage12, &frame.cell_voltage13, &frame.cell_voltage14, &frame.cell_voltage15},
        {&frame.cell_voltage16, &frame.cell_voltage17, &frame.cell_voltage18, &frame.cell_voltage19},
    };
    if (group >= 5u) {
        fprintf(stderr, "cell group %u out of range 0..4\n", group);
        return 2;
    }
    for (int i = 0; i < 4; i++) {
        *cells[group][i] = raw[i];
    }

    uint8_t data[PACK_CELL_VOLTAGES_LENGTH];
    int size = pack_cell_voltages_pack(data, &frame, sizeof data);
    if (size < 0 || bms_e2e_protect(data, (size_t)size, PACK_CELL_VOLTAGES_FRAME_ID, counter)) {
        fprintf(stderr, "cannot pack the frame\n");
        return 1;
    }
    printf("%03X#", (unsigned)(PACK_CELL_VOLTAGES_FRAME_ID + module_id));
    for (int i = 0; i < size; i++) {
        printf("%02X", data[i]);
    }
    printf("\n");
    return 0;
}
