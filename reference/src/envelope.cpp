// The checksum option's envelope: a 24-byte header (magic, version, flags,
// payload length, payload CRC-32C, header CRC-32C) and the payload, written
// as one file. The header has its own checksum so that a damaged length
// field is reported as corruption, not mistaken for truncation or extension.
// No Debian package offers CRC-32C as a C library, so it is computed here,
// one table lookup per byte (iSCSI's polynomial, reflected).
#include "steps.hpp"

#include <algorithm>
#include <array>

namespace crashcheck {
namespace {

constexpr std::uint32_t kCastagnoliReflected = 0x82F63B78;

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kCastagnoliReflected : 0);
    table[byte] = crc;
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

// Field offsets; the README's byte table is this one.
constexpr std::size_t kVersionAt = 4, kFlagsAt = 6, kLengthAt = 8, kPayloadCrcAt = 16, kHeaderCrcAt = 20;
static_assert(kHeaderCrcAt + 4 == kEnvelopeHeaderSize);

template <class Int>
void put_le(std::string& out, std::size_t at, Int value) {
  for (std::size_t i = 0; i < sizeof(Int); ++i) out[at + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
}

template <class Int>
Int get_le(std::string_view in, std::size_t at) {
  Int value = 0;
  for (std::size_t i = 0; i < sizeof(Int); ++i)
    value |= static_cast<Int>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return value;
}

class EnvelopeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "crashcheck.envelope"; }
  std::string message(int value) const override {
    switch (static_cast<EnvelopeErrc>(value)) {
      case EnvelopeErrc::not_an_envelope:
        return "not a checksummed envelope (bad magic)";
      case EnvelopeErrc::truncated:
        return "envelope truncated";
      case EnvelopeErrc::extended:
        return "envelope has bytes past its payload";
      case EnvelopeErrc::header_corrupt:
        return "envelope header checksum mismatch";
      case EnvelopeErrc::unsupported_version:
        return "envelope version or flags not supported";
      case EnvelopeErrc::payload_corrupt:
        return "envelope payload checksum mismatch";
    }
    return "unknown envelope error";
  }
};

VerifiedRead rejected(EnvelopeErrc why) { return {{}, make_error_code(why)}; }

// The magic, or as much of it as a file shorter than it holds.
bool starts_like_envelope(std::string_view bytes) {
  const std::size_t n = std::min(bytes.size(), kEnvelopeMagic.size());
  return bytes.substr(0, n) == kEnvelopeMagic.substr(0, n);
}

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) noexcept {
  crc = ~crc;
  for (char c : data) crc = kCrcTable[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

const std::error_category& envelope_category() noexcept {
  static const EnvelopeCategory category;
  return category;
}

std::error_code make_error_code(EnvelopeErrc e) noexcept { return {static_cast<int>(e), envelope_category()}; }

std::string encode_envelope(std::string_view payload) {
  std::string out(kEnvelopeHeaderSize, '\0');
  out.replace(0, kEnvelopeMagic.size(), kEnvelopeMagic);
  put_le<std::uint16_t>(out, kVersionAt, kEnvelopeVersion);
  put_le<std::uint16_t>(out, kFlagsAt, 0);
  put_le<std::uint64_t>(out, kLengthAt, payload.size());
  put_le<std::uint32_t>(out, kPayloadCrcAt, crc32c(payload));
  put_le<std::uint32_t>(out, kHeaderCrcAt, crc32c(std::string_view(out).substr(0, kHeaderCrcAt)));
  out += payload;
  return out;
}

VerifiedRead decode_envelope(std::string_view bytes) {
  if (!starts_like_envelope(bytes)) return rejected(EnvelopeErrc::not_an_envelope);
  if (bytes.size() < kEnvelopeHeaderSize) return rejected(EnvelopeErrc::truncated);
  if (get_le<std::uint32_t>(bytes, kHeaderCrcAt) != crc32c(bytes.substr(0, kHeaderCrcAt)))
    return rejected(EnvelopeErrc::header_corrupt);
  if (get_le<std::uint16_t>(bytes, kVersionAt) != kEnvelopeVersion || get_le<std::uint16_t>(bytes, kFlagsAt) != 0)
    return rejected(EnvelopeErrc::unsupported_version);
  const std::uint64_t length = get_le<std::uint64_t>(bytes, kLengthAt);
  const std::string_view payload = bytes.substr(kEnvelopeHeaderSize);
  if (payload.size() < length) return rejected(EnvelopeErrc::truncated);
  if (payload.size() > length) return rejected(EnvelopeErrc::extended);
  if (get_le<std::uint32_t>(bytes, kPayloadCrcAt) != crc32c(payload)) return rejected(EnvelopeErrc::payload_corrupt);
  return {std::string(payload), {}};
}

VerifiedRead read_file_verified(const std::filesystem::path& file) {
  errno = 0;
  const std::optional<std::string> bytes = read_file(file);
  if (!bytes) return {{}, std::error_code(errno ? errno : EIO, std::generic_category())};
  return decode_envelope(*bytes);
}

}  // namespace crashcheck
