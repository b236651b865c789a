# Warnings are on for every target of the project (cps_warnings is linked PRIVATE).
add_library(cps_warnings INTERFACE)
target_compile_options(cps_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
  -Wformat-security -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef
  -Wvla -Wnull-dereference -Wimplicit-fallthrough -Wno-unused-parameter
  -Wold-style-definition -Wredundant-decls -Wnested-externs
  # Diagnostics are cut on purpose to fit the fixed fields of struct cps_error
  # and of log lines; gcc -O2 reports every such snprintf as "may be truncated".
  -Wno-format-truncation)
if(CPS_WERROR)
  target_compile_options(cps_warnings INTERFACE -Werror)
endif()
