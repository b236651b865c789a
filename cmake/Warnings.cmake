# Warnings are on for every target of the project (cps_warnings is linked PRIVATE).
add_library(cps_warnings INTERFACE)
target_compile_options(cps_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
  -Wformat-security -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef
  -Wvla -Wnull-dereference -Wimplicit-fallthrough -Wno-unused-parameter
  -Wold-style-definition -Wredundant-decls -Wnested-externs)
if(CPS_WERROR)
  target_compile_options(cps_warnings INTERFACE -Werror)
endif()
