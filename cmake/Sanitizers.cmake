# ASan + UBSan for every target when CPS_SANITIZE is on. UBSan is made fatal so
# that a test run fails on the first report instead of printing and going on.
if(CPS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
