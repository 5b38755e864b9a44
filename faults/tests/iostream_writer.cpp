// iostream_writer DIR: C++ replacement through std::ofstream + std::filesystem::rename.
#include <filesystem>
#include <fstream>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::filesystem::path dir = argv[1];
  {
    std::ofstream out(dir / "target.tmp", std::ios::binary | std::ios::trunc);
    out << "hello from c++";
    out.flush();
    if (!out) return 1;
  }
  std::filesystem::rename(dir / "target.tmp", dir / "target");
  return 0;
}
