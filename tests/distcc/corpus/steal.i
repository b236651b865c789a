/* A hostile translation unit, sent as preprocessed input (the client does not
 * preprocess a .i file, so these lines reach distccd as written). The test
 * replaces SECRET_PATH with a host file readable by distccd's user. With plain
 * distccd the assembler embeds that file in the object sent back to the
 * client (.incbin); in the sandbox the file does not exist. */
__asm__(".section .rodata\n.incbin \"SECRET_PATH\"\n.previous");
int steal_marker = 1;
