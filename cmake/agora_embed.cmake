# agora_embed(<target> <NAME> <dir> [<shared dir>...])
#
# Embeds every file under <dir>, and those of each shared dir that <dir>
# has no file of the same name for, into <target> at build time (the
# SDK's shared UI helpers are one such dir: ${AGORA_UI_DIR}): a generated
# C source defines `const struct agora_static_table <NAME>` (see
# <agora/static.h>), which agora_static_serve() answers requests from.
# Declare it where you serve it:
#
#     extern const struct agora_static_table <NAME>;
#
# The generator is a small C program (agora_embed.c, beside this file)
# built once per project (so the project enables C, as plugins do); it runs gzip (Debian's gzip package, in
# build-essential's dependencies), nothing else. Adding or removing an
# asset re-runs CMake's glob (CONFIGURE_DEPENDS); editing one rebuilds
# the source. The .so or binary then carries its UI: nothing is read from
# disk at run time.
#
# Installed with the SDK as <prefix>/share/agora/cmake/agora_embed.cmake;
# an out-of-tree plugin finds it through pkg-config:
#
#     pkg_get_variable(AGORA_CMAKE_DIR agora-plugin cmakedir)
#     include(${AGORA_CMAKE_DIR}/agora_embed.cmake)
#     agora_embed(myplugin myplugin_ui ${CMAKE_CURRENT_SOURCE_DIR}/ui
#                 ${AGORA_UI_DIR})
#
# AGORA_UI_DIR: the SDK's ui/ (dom.js: safe DOM building, tables, bars,
# numbers and times), beside this file once installed, plugins/sdk/ui in
# agora's own tree.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/../ui/dom.js)
  set(AGORA_UI_DIR ${CMAKE_CURRENT_LIST_DIR}/../ui CACHE INTERNAL "")
else()
  set(AGORA_UI_DIR ${CMAKE_CURRENT_LIST_DIR}/../plugins/sdk/ui CACHE INTERNAL "")
endif()

function(agora_embed target name dir)
  if(NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "agora_embed: ${name} is not a C identifier")
  endif()
  if(NOT IS_ABSOLUTE "${dir}")
    set(dir ${CMAKE_CURRENT_SOURCE_DIR}/${dir})
  endif()
  if(NOT TARGET agora_embed_gen)
    # Built for the build machine, with no flags of the project's that
    # could make it fail (a sanitizer's leak check, say).
    add_executable(agora_embed_gen ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/agora_embed.c)
    set_target_properties(agora_embed_gen PROPERTIES
      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/agora_embed)
    target_compile_options(agora_embed_gen PRIVATE -fno-sanitize=all)
    target_link_options(agora_embed_gen PRIVATE -fno-sanitize=all)
  endif()
  file(GLOB_RECURSE files LIST_DIRECTORIES false CONFIGURE_DEPENDS
       RELATIVE ${dir} ${dir}/*)
  list(FILTER files EXCLUDE REGEX "(^|/)\\.")   # no dotfiles, editors' swaps
  list(SORT files)
  if(NOT files)
    message(FATAL_ERROR "agora_embed: no files in ${dir}")
  endif()
  set(deps)
  foreach(f ${files})
    list(APPEND deps ${dir}/${f})
  endforeach()
  # Shared files: NAME=SOURCE for the generator, unless dir has NAME.
  foreach(shared ${ARGN})
    get_filename_component(shared ${shared} ABSOLUTE)
    file(GLOB_RECURSE more LIST_DIRECTORIES false CONFIGURE_DEPENDS
         RELATIVE ${shared} ${shared}/*)
    list(FILTER more EXCLUDE REGEX "(^|/)\\.")
    list(SORT more)
    foreach(f ${more})
      if(NOT f IN_LIST files)
        list(APPEND files ${f}=${shared}/${f})
        list(APPEND deps ${shared}/${f})
      endif()
    endforeach()
  endforeach()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${name}_embed.c)
  add_custom_command(OUTPUT ${out}
    COMMAND agora_embed_gen ${name} ${out} ${dir} ${files}
    DEPENDS agora_embed_gen ${deps}
    COMMENT "Embedding ${dir} as ${name}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
