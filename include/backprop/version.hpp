// The version of backprop. CMakeLists.txt reads it from here, so that a copy of include/ is
// complete without CMake.
#pragma once

#define BACKPROP_VERSION_MAJOR 0
#define BACKPROP_VERSION_MINOR 3
#define BACKPROP_VERSION_PATCH 0
#define BACKPROP_VERSION_STRING "0.3.0"
/// One integer that compares: 0.1.0 -> 100, 1.2.3 -> 10203.
#define BACKPROP_VERSION \
  (BACKPROP_VERSION_MAJOR * 10000 + BACKPROP_VERSION_MINOR * 100 + BACKPROP_VERSION_PATCH)
