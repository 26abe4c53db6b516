// The web dashboard's files (src/web/assets/), compiled into the binary at build time
// (cmake/embed_assets.cmake) so that it works offline, with nothing to install beside it.
#pragma once

#include <string_view>
#include <vector>

namespace spindle::web {

struct Asset {
  std::string_view name;  // "app.js"
  std::string_view type;  // its Content-Type
  std::string_view body;
};

const std::vector<Asset>& Assets();

// The asset called `name`; nullptr when there is none.
inline const Asset* FindAsset(std::string_view name) {
  for (const auto& a : Assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace spindle::web
