/* E2E profile 1 for pack-bus frames: see bms_e2e.h. SPDX-License-Identifier: MIT */
#include "bms_e2e.h"

static uint8_t crc8_update(uint8_t crc, uint8_t byte)
{
    crc ^= byte;
    for (int bit = 0; bit < 8; bit++) {
        crc = (crc & 0x80u) ? (uint8_t)((crc << 1) ^ 0x1Du) : (uint8_t)(crc << 1);
    }
    return crc;
}

uint8_t bms_e2e_crc(uint16_t data_id, const uint8_t *data_p, size_t size)
{
    uint8_t crc = 0x00u;
    crc = crc8_update(crc, (uint8_t)(data_id & 0xFFu));
    crc = crc8_update(crc, (uint8_t)(data_id >> 8));
    for (size_t i = 1; i < size; i++) {
        crc = crc8_update(crc, data_p[i]);
    }
    return crc;
}

int bms_e2e_protect(uint8_t *data_p, size_t size, uint16_t data_id, uint8_t counter)
{
    if (counter >= BMS_E2E_COUNTER_MODULO || size < 2u) {
        return -1;
    }
    data_p[1] = (uint8_t)((data_p[1] & 0xF0u) | counter);
    data_p[0] = bms_e2e_crc(data_id, data_p, size);
    return 0;
}

uint8_t bms_e2e_next_counter(uint8_t counter)
{
    return (uint8_t)((counter + 1u) % BMS_E2E_COUNTER_MODULO);
}
