# Find Eigen 3.4 or any newer release, including new major versions.
# Eigen's own version file accepts only its major version, so a versioned find_package(Eigen3 3.4)
# would reject Eigen 5; ask for any version and check the minimum here instead.
if(NOT TARGET Eigen3::Eigen)
  find_package(Eigen3 CONFIG REQUIRED)
endif()
if(DEFINED Eigen3_VERSION AND Eigen3_VERSION VERSION_LESS 3.4)
  message(FATAL_ERROR "backprop needs Eigen 3.4 or newer; found ${Eigen3_VERSION} in ${Eigen3_DIR}")
endif()
