# annals_add_library(<module> <source>...)
#
# Makes the library of the module folder <module>/ — every library module of
# annals (common, statistics, codec, eventstore, subscriptions, snapshots, event_registry,
# aggregates, projections, cli, and every new one) is made with this function, so that each is built, named,
# installed and exported the same way:
#
#   target      annals_<module>, STATIC or SHARED as BUILD_SHARED_LIBS says,
#               file libannals_<module>.{a,so}; VERSION/SOVERSION from
#               project() (SOVERSION 0.<minor> before 1.0, since a 0.x minor
#               release may change the ABI; <major> from 1.0 on)
#   name        annals::<module>: an ALIAS in this build (for add_subdirectory
#               consumers and for annals' own targets) and the imported target
#               of the installed package (find_package(annals))
#   includes    PUBLIC: include/ and the generated public headers
#               (${PROJECT_BINARY_DIR}/include: annals/version.h) while
#               building, <prefix>/include once installed. PRIVATE: the
#               repository root, for internal headers ("common/strings.h",
#               "eventstore/internal/keys.h"), which never reach a consumer.
#   C++20       a usage requirement (public headers use it)
#   RPATH       $ORIGIN once installed, when <libdir> is not a directory the
#               loader searches anyway: a shared library finds the annals
#               libraries it needs next to it, wherever the prefix is
#   install     the library into annals' export set (annalsTargets): it joins
#               annals::annals (the umbrella), annalsConfig.cmake and annals.pc
#               (cmake/annals_package.cmake)
#
# The module states its dependencies itself, after the call:
#
#   annals_add_library(subscriptions subscription.cc)
#   target_link_libraries(annals_subscriptions
#     PUBLIC annals::eventstore absl::status          # its public headers need them
#     PRIVATE annals::common RocksDB::rocksdb-shared  # its .cc files need them
#             $<BUILD_INTERFACE:nlohmann_json::nlohmann_json>)  # header-only, private
#
# and adds its folder to ANNALS_MODULES (top-level CMakeLists.txt) after the
# modules it uses. A header-only library used only privately goes in
# $<BUILD_INTERFACE:...> so that installed consumers need not find it. Any
# other package a module links must have a line in annals_package.cmake's
# table (find_dependency name, pkg-config name); configuring fails and says so
# when one is missing. Public headers go in include/annals/ (all of it is
# installed).
function(annals_add_library module)
  set(target annals_${module})
  add_library(${target} ${ARGN})
  add_library(annals::${module} ALIAS ${target})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
           $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_features(${target} PUBLIC cxx_std_20)
  if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(soversion 0.${PROJECT_VERSION_MINOR})
  else()
    set(soversion ${PROJECT_VERSION_MAJOR})
  endif()
  set_target_properties(${target} PROPERTIES
    EXPORT_NAME ${module}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${soversion})
  if(NOT "${CMAKE_INSTALL_FULL_LIBDIR}" IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN")
  endif()
  set_property(GLOBAL APPEND PROPERTY ANNALS_LIBRARY_MODULES ${module})
  if(ANNALS_INSTALL)
    install(TARGETS ${target} EXPORT annalsTargets
      ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
      LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
      RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endfunction()
