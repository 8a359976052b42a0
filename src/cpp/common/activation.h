// Activations that ops fuse into their output stage (conv2d, dense).
#pragma once

namespace cnnext {
enum class Act : int { linear = 0, relu = 1, sigmoid = 2, tanh = 3 };
}  // namespace cnnext
