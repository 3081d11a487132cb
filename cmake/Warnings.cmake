# Warnings we hold the code to (STYLE.md); -Werror with PARAPROP_WERROR (CI).
function(pp_target_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
    -Wold-style-definition -Wvla -Wpointer-arith -Wcast-qual -Wnull-dereference
    $<$<C_COMPILER_ID:GNU>:-Wno-format-truncation>
    $<$<BOOL:${PARAPROP_WERROR}>:-Werror>)
endfunction()
