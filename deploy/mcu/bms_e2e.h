/*
 * E2E protection of pack-bus frames, AUTOSAR profile 1 style (PROTOCOLS.md section 2),
 * for microcontroller slaves. Same rules as dbc/e2e.py:
 *   byte 0        CRC-8, poly 0x1D, init 0x00, no final XOR, over
 *                 DataID low byte, DataID high byte, data bytes 1..n-1
 *   byte 1 & 0x0F alive counter 0..14 (15 is invalid)
 * The DataID of a message is its base CAN id (PACK_..._FRAME_ID in pack.h); a slave sends
 * on base id + module id.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BMS_E2E_H
#define BMS_E2E_H

#include <stdint.h>
#include <stddef.h>

#define BMS_E2E_COUNTER_MODULO 15u

/* Profile 1 CRC of a frame (byte 0 is not covered). */
uint8_t bms_e2e_crc(uint16_t data_id, const uint8_t *data_p, size_t size);

/* Write the alive counter (0..14) and then the CRC into a packed frame, in place.
 * Returns 0, or -1 for a counter out of range or a frame shorter than 2 bytes. */
int bms_e2e_protect(uint8_t *data_p, size_t size, uint16_t data_id, uint8_t counter);

/* The counter that follows `counter`: 0..14, then 0 again. */
uint8_t bms_e2e_next_counter(uint8_t counter);

#endif
