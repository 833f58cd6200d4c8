//===- NpyWriterTest.cpp - the .npy v1.0 header and data ------------------===//
#include "NpyWriter.h"
#include "TestArtifacts.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

namespace {

TEST(NpyWriter, HeaderIsVersionOneAndAligned) {
  std::string header = mbc_run::npyFloat32Header({3, 256});
  ASSERT_EQ(header.size() % 64, 0u);
  EXPECT_EQ(header.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  uint16_t length = uint8_t(header[8]) | uint16_t(uint8_t(header[9])) << 8;
  EXPECT_EQ(length + 10u, header.size());
  EXPECT_EQ(header.substr(10, 61),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 256), }");
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(mbc_run::npyFloat32Header({5}).find("'shape': (5,), }"),
            size_t(10 + 41));
}

TEST(NpyWriter, WritesTheRowsAndRenamesWhenComplete) {
  std::string path = mbrt_test::temporaryFolder() + "/out.npy";
  mbc_run::NpyWriter writer;
  std::string error;
  ASSERT_TRUE(writer.open(path, {2, 3}, error)) << error;
  const float first[] = {1, 2, 3}, second[] = {-4, 0.5f, 1e30f};
  ASSERT_TRUE(writer.append(first, 3, error)) << error;
  EXPECT_FALSE(std::ifstream(path).good()); // not there before it is whole
  ASSERT_TRUE(writer.append(second, 3, error)) << error;
  ASSERT_TRUE(writer.finish(error)) << error;
  std::ifstream file(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)),
                    std::istreambuf_iterator<char>());
  std::string header = mbc_run::npyFloat32Header({2, 3});
  ASSERT_EQ(bytes.size(), header.size() + 6 * sizeof(float));
  EXPECT_EQ(bytes.substr(0, header.size()), header);
  float values[6];
  std::memcpy(values, bytes.data() + header.size(), sizeof values);
  EXPECT_EQ(values[0], 1);
  EXPECT_EQ(values[4], 0.5f);
  EXPECT_EQ(values[5], 1e30f);
}

TEST(NpyWriter, IncompleteArrayLeavesNoFile) {
  std::string path = mbrt_test::temporaryFolder() + "/partial.npy";
  std::string error;
  {
    mbc_run::NpyWriter writer;
    ASSERT_TRUE(writer.open(path, {2, 2}, error));
    const float row[] = {1, 2};
    ASSERT_TRUE(writer.append(row, 2, error));
    EXPECT_FALSE(writer.finish(error));
    EXPECT_NE(error.find("2 elements written, 4 expected"), std::string::npos);
  }
  EXPECT_FALSE(std::ifstream(path).good());
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
}

} // namespace
