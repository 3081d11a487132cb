# Installs libparaprop, its headers, the program, a CMake package (find_package(paraprop) →
# paraprop::paraprop, and paraprop::fortran when built) and pkg-config files.
include(CMakePackageConfigHelpers)
install(TARGETS paraprop EXPORT paraprop-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS paraprop_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/paraprop DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/paraprop/precision.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/paraprop)
install(EXPORT paraprop-targets NAMESPACE paraprop::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/paraprop)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/paraprop-config.cmake.in
  ${PROJECT_BINARY_DIR}/paraprop-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/paraprop)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/paraprop-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/paraprop-config.cmake
  ${PROJECT_BINARY_DIR}/paraprop-config-version.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/paraprop)
file(RELATIVE_PATH PP_PC_UP "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${PROJECT_SOURCE_DIR}/cmake/paraprop.pc.in ${PROJECT_BINARY_DIR}/paraprop.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/paraprop.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The Fortran module (when built): libparaprop_fortran in the same export set, so the package
# has paraprop::fortran; paraprop.mod beside the headers; paraprop-fortran.pc.
if(TARGET paraprop_fortran)
  set_target_properties(paraprop_fortran PROPERTIES INSTALL_RPATH "$ORIGIN")
  install(TARGETS paraprop_fortran EXPORT paraprop-targets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  get_target_property(_pp_moddir paraprop_fortran Fortran_MODULE_DIRECTORY)
  install(FILES ${_pp_moddir}/paraprop.mod
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/paraprop/fortran)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/paraprop-fortran.pc.in
    ${PROJECT_BINARY_DIR}/paraprop-fortran.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/paraprop-fortran.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
