/*
 * gate_cmd: `kakeya-gate [--presets DIR] [--schema FILE] [--junit FILE]
 * [--json] [--md FILE] [--allow-stale] EVIDENCE...`, the evidence mode.
 * Exit (kk_exit): 0 every check passed; 1 a threshold, control or rule
 * failed; 2 a file is malformed, violates the evidence schema, or its preset
 * is malformed or missing (2 wins over 1); 3 usage.
 */
#ifndef KK_GATE_CMD_H
#define KK_GATE_CMD_H

int gate_cmd_check(int argc, char **argv);

#endif /* KK_GATE_CMD_H */
