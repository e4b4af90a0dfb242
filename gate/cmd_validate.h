/*
 * cmd_validate: `kakeya-gate validate --schema SCHEMA INSTANCE...`, plain
 * JSON Schema validation of any documents (the conformance runner and the
 * differential test use it too).
 *
 * Exit codes (kk_exit): 0 all valid, 1 an instance is invalid, 2 malformed
 * JSON or an invalid schema, 3 usage. argv[0] is "validate".
 */
#ifndef KK_CMD_VALIDATE_H
#define KK_CMD_VALIDATE_H

int gate_cmd_validate(int argc, char **argv);

#endif /* KK_CMD_VALIDATE_H */
