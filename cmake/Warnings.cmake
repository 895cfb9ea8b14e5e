# The warnings every kizuna target is built with (STYLE.md, habit 11).
function(kz_strict_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wformat=2 -Wvla -Wpointer-arith -Wundef)
  if(KZ_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
