//===- DeviceProbe.h - is there a CUDA device here? --------------*- C++
//-*-===//
#ifndef MBRT_DEVICEPROBE_H
#define MBRT_DEVICEPROBE_H

#include <string>

namespace mbrt {

/// Loads the CUDA driver (libcuda.so.1) at run time, as libmbrt never links
/// it, and counts its devices. Returns "" when at least one device exists,
/// else why not, starting with "no CUDA device".
std::string probeCudaDevice();

} // namespace mbrt

#endif // MBRT_DEVICEPROBE_H
