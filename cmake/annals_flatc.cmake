# annals_flatbuffers(<target> SCHEMAS <file.fbs>... [BFBS])
#
# Compiles FlatBuffers schemas with Debian's flatc at build time into
# ${CMAKE_CURRENT_BINARY_DIR}/generated and defines an INTERFACE target that
# puts the generated headers on the include path. With BFBS, binary schemas
# (.bfbs) are generated as well (the CLI renders events as JSON with them).
#
# Installed with the annals package: after find_package(annals) a service
# compiles its own event schemas with it (the target links
# flatbuffers::flatbuffers_shared, which annalsConfig.cmake finds).
find_program(FLATC_EXECUTABLE flatc)

function(annals_flatbuffers target)
  cmake_parse_arguments(ARG "BFBS" "" "SCHEMAS" ${ARGN})
  if(NOT FLATC_EXECUTABLE)
    message(FATAL_ERROR "annals_flatbuffers(${target}): the FlatBuffers compiler flatc was not "
                        "found; install it (Debian: flatbuffers-compiler) or set FLATC_EXECUTABLE")
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/generated)
  set(outputs)
  foreach(schema ${ARG_SCHEMAS})
    get_filename_component(name ${schema} NAME_WE)
    set(header ${out_dir}/${name}_generated.h)
    list(APPEND outputs ${header})
    add_custom_command(
      OUTPUT ${header}
      COMMAND ${FLATC_EXECUTABLE} --cpp --cpp-std c++17 --gen-object-api --scoped-enums
              -o ${out_dir} ${schema}
      DEPENDS ${schema}
      COMMENT "flatc ${name}.fbs"
      VERBATIM)
    if(ARG_BFBS)
      set(bfbs ${out_dir}/${name}.bfbs)
      list(APPEND outputs ${bfbs})
      add_custom_command(
        OUTPUT ${bfbs}
        COMMAND ${FLATC_EXECUTABLE} --binary --schema --bfbs-comments -o ${out_dir} ${schema}
        DEPENDS ${schema}
        COMMENT "flatc --schema ${name}.fbs"
        VERBATIM)
    endif()
  endforeach()
  add_custom_target(${target}_gen DEPENDS ${outputs})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} INTERFACE ${out_dir})
  target_link_libraries(${target} INTERFACE flatbuffers::flatbuffers_shared)
endfunction()
