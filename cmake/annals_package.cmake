# annals_package()
#
# Called once, at the end of the top-level CMakeLists.txt, after every module
# made its library with annals_add_library() (cmake/annals_module.cmake). It
#
#   - makes the umbrella annals::annals (every library module);
#   - with ANNALS_INSTALL: installs include/annals/, the generated
#     annals/version.h, the libraries (annals_add_library), the export set
#     as <libdir>/cmake/annals/annalsTargets.cmake with annalsConfig.cmake and
#     annalsConfigVersion.cmake, annals.pc, LICENSE and CHANGELOG.md, and the
#     CMake helpers a consumer uses for its own schemas
#     (annals_flatbuffers(), annals_embed_text());
#   - exports the same targets from the build tree (export()), so that
#     find_package(annals) also works with CMAKE_PREFIX_PATH=<annals build>.
#
# The packages a consumer must find (find_dependency in annalsConfig.cmake)
# and the pkg-config modules annals.pc requires are derived from what the
# modules link, through the table in _annals_map_dependency(): nothing to keep
# in sync by hand, and a module that links a package the table does not know
# stops the configure step with a message saying where to add it.

include(CMakePackageConfigHelpers)

# _annals_map_dependency(<link item> <find_package args var> <pkg-config var>)
#
# The table: for a link item of a module, the arguments of find_dependency()
# and the pkg-config module (or, starting with "-", the linker flag) it
# stands for.
function(_annals_map_dependency item pkg_var pc_var)
  if(item MATCHES "^absl::(.+)$")
    set(pkg "absl CONFIG")
    set(pc "absl_${CMAKE_MATCH_1}")
  elseif(item MATCHES "^RocksDB::")
    set(pkg "RocksDB CONFIG")
    set(pc rocksdb)
  elseif(item MATCHES "^flatbuffers::")
    set(pkg "FlatBuffers CONFIG")
    set(pc flatbuffers)
  elseif(item STREQUAL "OpenSSL::Crypto")
    set(pkg OpenSSL)
    set(pc libcrypto)
  elseif(item STREQUAL "Threads::Threads")
    set(pkg Threads)
    set(pc -pthread)
  elseif(item STREQUAL "nlohmann_json::nlohmann_json")
    set(pkg "nlohmann_json CONFIG")
    set(pc nlohmann_json)
  elseif(item MATCHES "^zstd::")
    set(pkg "zstd CONFIG")
    set(pc libzstd)
  elseif(item STREQUAL "CLI11::CLI11")
    set(pkg "CLI11 CONFIG")
    set(pc CLI11)
  else()
    message(FATAL_ERROR
      "annals: a library module links '${item}', which cmake/annals_package.cmake does not know. "
      "Add it to _annals_map_dependency() (its find_dependency() arguments and pkg-config "
      "module), or link it as $<BUILD_INTERFACE:${item}> if it is header-only and private.")
  endif()
  set(${pkg_var} "${pkg}" PARENT_SCOPE)
  set(${pc_var} "${pc}" PARENT_SCOPE)
endfunction()

# Whether a link item names an annals target (internal to the package).
function(_annals_is_internal item out_var)
  set(internal FALSE)
  if(item MATCHES "^annals(_|::)" AND TARGET ${item})
    set(internal TRUE)
  endif()
  set(${out_var} ${internal} PARENT_SCOPE)
endfunction()

function(annals_package)
  get_property(modules GLOBAL PROPERTY ANNALS_LIBRARY_MODULES)

  # The umbrella: everything, for users who do not want to pick modules.
  add_library(annals_umbrella INTERFACE)
  set_target_properties(annals_umbrella PROPERTIES EXPORT_NAME annals)
  foreach(module IN LISTS modules)
    target_link_libraries(annals_umbrella INTERFACE annals_${module})
  endforeach()
  add_library(annals::annals ALIAS annals_umbrella)

  if(NOT ANNALS_INSTALL)
    return()
  endif()

  # What consumers need: find_dependency() for every package the exported
  # targets name (public dependencies; for static libraries also the private
  # ones, which CMake exports as $<LINK_ONLY:...>); pkg-config modules
  # split into public (Requires) and private (Requires.private).
  set(find_args)
  set(find_args_build_only)
  set(pc_public)
  set(pc_all)
  foreach(module IN LISTS modules)
    get_target_property(all_links annals_${module} LINK_LIBRARIES)
    get_target_property(interface_links annals_${module} INTERFACE_LINK_LIBRARIES)
    foreach(kind all interface)
      foreach(item IN LISTS ${kind}_links)
        if(item MATCHES "-NOTFOUND$")
          continue()
        endif()
        set(link_only FALSE)
        if(item MATCHES "^\\$<LINK_ONLY:(.+)>$")
          set(item ${CMAKE_MATCH_1})
          set(link_only TRUE)
        endif()
        if(item MATCHES "^\\$<BUILD_INTERFACE:(.+)>$")
          # Header-only and private: only the build tree's export names it.
          if(kind STREQUAL "interface" AND TARGET ${CMAKE_MATCH_1})
            _annals_is_internal(${CMAKE_MATCH_1} internal)
            if(NOT internal)
              _annals_map_dependency(${CMAKE_MATCH_1} pkg pc)
              list(APPEND find_args_build_only "${pkg}")
            endif()
          endif()
          continue()
        endif()
        _annals_is_internal(${item} internal)
        if(internal)
          continue()
        endif()
        _annals_map_dependency(${item} pkg pc)
        if(kind STREQUAL "all")
          list(APPEND pc_all ${pc})
        else()
          list(APPEND find_args "${pkg}")
          if(NOT link_only)
            list(APPEND pc_public ${pc})
          endif()
        endif()
      endforeach()
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES find_args)
  list(REMOVE_DUPLICATES pc_public)
  list(REMOVE_DUPLICATES pc_all)
  if(find_args_build_only)
    list(REMOVE_DUPLICATES find_args_build_only)
    list(REMOVE_ITEM find_args_build_only ${find_args})
  endif()

  # annals.pc. A static library needs every dependency on the link line of a
  # plain `pkg-config --libs annals`, so all of them are Requires; a shared
  # library brings its private ones itself (DT_NEEDED), so those are
  # Requires.private (used by `pkg-config --static`).
  set(requires)
  set(requires_private)
  set(libs_flags)
  set(libs_private_flags)
  foreach(pc IN LISTS pc_all)
    if(pc MATCHES "^-")
      if(BUILD_SHARED_LIBS)
        list(APPEND libs_private_flags ${pc})
      else()
        list(APPEND libs_flags ${pc})
      endif()
    elseif(NOT BUILD_SHARED_LIBS OR pc IN_LIST pc_public)
      list(APPEND requires ${pc})
    else()
      list(APPEND requires_private ${pc})
    endif()
  endforeach()
  set(libs "-L\${libdir}")
  set(sorted)
  _annals_topo_sort("${modules}" sorted)
  foreach(module IN LISTS sorted)
    string(APPEND libs " -lannals_${module}")
  endforeach()
  list(JOIN libs_flags " " libs_flags)
  list(JOIN libs_private_flags " " libs_private_flags)
  list(JOIN requires ", " ANNALS_PC_REQUIRES)
  list(JOIN requires_private ", " ANNALS_PC_REQUIRES_PRIVATE)
  string(STRIP "${libs} ${libs_flags}" ANNALS_PC_LIBS)
  set(ANNALS_PC_LIBS_PRIVATE "${libs_private_flags}")
  # prefix relative to the .pc file, so that the package is relocatable
  # (cmake --install --prefix <anywhere>).
  set(pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  if(IS_ABSOLUTE ${CMAKE_INSTALL_LIBDIR})
    set(ANNALS_PC_PREFIX ${CMAKE_INSTALL_PREFIX})
  else()
    file(RELATIVE_PATH up /${pc_dir} /)
    string(REGEX REPLACE "/$" "" up "${up}")
    set(ANNALS_PC_PREFIX "\${pcfiledir}/${up}")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/annals.pc.in ${PROJECT_BINARY_DIR}/annals.pc @ONLY)

  set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/annals)
  set(helpers ${PROJECT_SOURCE_DIR}/cmake/annals_flatc.cmake
              ${PROJECT_SOURCE_DIR}/cmake/annals_embed.cmake)
  # Two config files from one template: the installed one, and the build
  # tree's, whose exported targets also name the header-only private
  # dependencies (CMake keeps $<BUILD_INTERFACE:...> items in a build-tree
  # export). Each names nothing but files next to it.
  foreach(tree install build)
    set(ANNALS_FIND_DEPENDENCIES "")
    set(args_list ${find_args})
    set(out ${PROJECT_BINARY_DIR}/package/annalsConfig.cmake)
    if(tree STREQUAL "build")
      list(APPEND args_list ${find_args_build_only})
      set(out ${PROJECT_BINARY_DIR}/annalsConfig.cmake)
    endif()
    foreach(args IN LISTS args_list)
      string(APPEND ANNALS_FIND_DEPENDENCIES "find_dependency(${args})\n")
    endforeach()
    configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/annalsConfig.cmake.in ${out}
      INSTALL_DESTINATION ${config_dir}
      NO_SET_AND_CHECK_MACRO NO_CHECK_REQUIRED_COMPONENTS_MACRO)
  endforeach()
  # Before 1.0 a minor release may break the API: only the same minor matches.
  if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(compatibility SameMinorVersion)
  else()
    set(compatibility SameMajorVersion)
  endif()
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/annalsConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY ${compatibility})

  install(TARGETS annals_umbrella EXPORT annalsTargets)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/annals ${PROJECT_BINARY_DIR}/include/annals
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
  install(EXPORT annalsTargets NAMESPACE annals:: DESTINATION ${config_dir})
  install(FILES ${PROJECT_BINARY_DIR}/package/annalsConfig.cmake
                ${PROJECT_BINARY_DIR}/annalsConfigVersion.cmake ${helpers}
    DESTINATION ${config_dir})
  install(FILES ${PROJECT_BINARY_DIR}/annals.pc DESTINATION ${pc_dir})
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/CHANGELOG.md
    DESTINATION ${CMAKE_INSTALL_DOCDIR})

  # The build tree as a package too (its config includes the helpers from
  # next to it).
  export(EXPORT annalsTargets NAMESPACE annals::
    FILE ${PROJECT_BINARY_DIR}/annalsTargets.cmake)
  foreach(helper IN LISTS helpers)
    configure_file(${helper} ${PROJECT_BINARY_DIR} COPYONLY)
  endforeach()
endfunction()

# _annals_topo_sort(<modules> <out_var>): the modules ordered so that each
# comes before every module it links (the order of -l flags for a static link).
function(_annals_topo_sort modules out_var)
  set(sorted)
  set(remaining ${modules})
  while(remaining)
    set(progress FALSE)
    foreach(module IN LISTS remaining)
      # A module may be emitted once no remaining module links it.
      set(used FALSE)
      foreach(other IN LISTS remaining)
        if(other STREQUAL module)
          continue()
        endif()
        get_target_property(links annals_${other} LINK_LIBRARIES)
        if("annals_${module}" IN_LIST links OR "annals::${module}" IN_LIST links)
          set(used TRUE)
          break()
        endif()
      endforeach()
      if(NOT used)
        list(APPEND sorted ${module})
        list(REMOVE_ITEM remaining ${module})
        set(progress TRUE)
        break()
      endif()
    endforeach()
    if(NOT progress)
      message(FATAL_ERROR "annals: the library modules ${remaining} link each other in a cycle")
    endif()
  endwhile()
  set(${out_var} ${sorted} PARENT_SCOPE)
endfunction()
