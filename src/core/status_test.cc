#include "core/status.h"

#include <gtest/gtest.h>

namespace keyhold {
namespace {

StatusOr<int> FailsWithDetail() {
  return Unavailable("the store could not be written", "application/store_unavailable")
      .WithLogDetail("commit: disk I/O error");
}

Status Propagates() {
  KH_ASSIGN_OR_RETURN(int v, FailsWithDetail());
  return v == 0 ? OkStatus() : Internal("unreachable");
}

TEST(StatusTest, LogDetailStaysBesideTheMessage) {
  Status st = Propagates();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.reason(), "application/store_unavailable");
  EXPECT_EQ(st.message(), "the store could not be written");
  EXPECT_EQ(st.log_detail(), "commit: disk I/O error");
}

TEST(StatusTest, LogDetailIsEmptyUnlessSet) {
  EXPECT_TRUE(InvalidArgument("bad").log_detail().empty());
  EXPECT_TRUE(OkStatus().log_detail().empty());
}

}  // namespace
}  // namespace keyhold
