// Properties of the checksum envelope and of keep_backup over random
// payloads: every single-byte flip and every truncation of an envelope is
// rejected with the kind of damage it is, and after any such damage to the
// target read_file_with_fallback returns the previous version from the
// backup.
#include "support.hpp"

#include <crashcheck/reference.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

namespace crashcheck::test {
namespace {

// Payloads up to 512 bytes: every position of the envelope is tried, so
// the size bounds the work per case.
rc::Gen<std::string> gen_payload() {
  return rc::gen::resize(512, rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
}

rc::Gen<unsigned char> gen_flip_mask() { return rc::gen::cast<unsigned char>(rc::gen::inRange<int>(1, 256)); }

// The kind of damage a flip at `position` is: the magic, the rest of the header, or the payload.
EnvelopeErrc kind_of_flip_at(std::size_t position) {
  if (position < kEnvelopeMagic.size()) return EnvelopeErrc::not_an_envelope;
  if (position < kEnvelopeHeaderSize) return EnvelopeErrc::header_corrupt;
  return EnvelopeErrc::payload_corrupt;
}

RC_GTEST_PROP(EnvelopeProperties, EverySingleByteFlipIsRejectedAsWhatItDamaged, ()) {
  const std::string payload = *gen_payload();
  const unsigned char mask = *gen_flip_mask();
  const std::string envelope = encode_envelope(payload);
  RC_ASSERT(decode_envelope(envelope).payload == payload);
  for (std::size_t position = 0; position < envelope.size(); ++position) {
    std::string damaged = envelope;
    damaged[position] = static_cast<char>(damaged[position] ^ mask);
    RC_ASSERT(decode_envelope(damaged).error == make_error_code(kind_of_flip_at(position)));
  }
}

RC_GTEST_PROP(EnvelopeProperties, EveryTruncationAndEveryExtensionIsRejected, ()) {
  const std::string payload = *gen_payload();
  const std::string extra = *rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
  const std::string envelope = encode_envelope(payload);
  for (std::size_t length = 0; length < envelope.size(); ++length)
    RC_ASSERT(decode_envelope(std::string_view(envelope).substr(0, length)).error ==
              make_error_code(EnvelopeErrc::truncated));
  RC_ASSERT(decode_envelope(envelope + extra).error == make_error_code(EnvelopeErrc::extended));
}

// Damage done to a file behind the writer's back.
struct Damage {
  enum Kind { flip, truncate, extend } kind = flip;
  std::size_t position = 0;  // flip: the byte; truncate: the new length (both modulo the size)
  unsigned char mask = 1;    // flip: XOR mask; extend: the appended byte
};

void showValue(const Damage& d, std::ostream& os) {
  const char* kinds[] = {"flip", "truncate", "extend"};
  os << kinds[d.kind] << " at " << d.position << " mask " << int{d.mask};
}

rc::Gen<Damage> gen_damage() {
  return rc::gen::build<Damage>(
      rc::gen::set(&Damage::kind, rc::gen::element(Damage::flip, Damage::truncate, Damage::extend)),
      rc::gen::set(&Damage::position, rc::gen::arbitrary<std::size_t>()), rc::gen::set(&Damage::mask, gen_flip_mask()));
}

void apply(const Damage& damage, const fs::path& file) {
  std::string bytes = read_file(file).value();
  switch (damage.kind) {
    case Damage::flip:
      flip_byte(file, damage.position % bytes.size(), damage.mask);
      return;
    case Damage::truncate:
      fs::resize_file(file, damage.position % bytes.size());
      return;
    case Damage::extend:
      write_plain(file, bytes + static_cast<char>(damage.mask));
      return;
  }
}

RC_GTEST_PROP(BackupProperties, AfterAnyDamageToTheTargetTheFallbackReadsThePreviousVersion, ()) {
  const std::string v1 = *gen_payload();
  const std::string v2 = *gen_payload();
  const Damage damage = *gen_damage();
  ScratchDir dir;
  const fs::path target = dir / "state";
  // What a crash keeps is the other properties' business: no fsync here, to stay quick.
  const WriteOptions options = with_backup(with_checksum(with_durability(Durability::no_sync)));
  RC_ASSERT(!write_file_atomic(target, v1, options));
  RC_ASSERT(!write_file_atomic(target, v2, options));
  apply(damage, target);
  const FallbackRead read =
      read_file_with_fallback(target, [](std::string_view bytes) { return !decode_envelope(bytes).error; });
  RC_ASSERT(read.source == ReadSource::backup);
  RC_ASSERT(decode_envelope(read.content.value()).payload == v1);
}

}  // namespace
}  // namespace crashcheck::test
