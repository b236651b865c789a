# Man pages: written once in scdoc (docs/man/*.scd), built into the build tree
# and installed under share/man. Without scdoc they are not built (a message
# says so); the Debian package build-depends on it, and the test that every
# --help option is documented reads the .scd sources, not the built pages.
find_program(CPS_SCDOC scdoc)
file(GLOB CPS_MAN_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.scd)
if(NOT CPS_SCDOC)
  message(STATUS "scdoc not found: man pages are not built (apt-get install scdoc)")
  return()
endif()
set(CPS_MAN_PAGES)
foreach(src ${CPS_MAN_SOURCES})
  get_filename_component(page ${src} NAME_WLE) # cachepot-dist-run.1
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  set(out ${PROJECT_BINARY_DIR}/man/${page})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${CPS_SCDOC} < ${src} > ${out}
    DEPENDS ${src} VERBATIM COMMENT "scdoc ${page}")
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  list(APPEND CPS_MAN_PAGES ${out})
endforeach()
add_custom_target(cps_man_pages ALL DEPENDS ${CPS_MAN_PAGES})
