"""AWS sources: CloudWatch Logs reads (DescribeLogGroups, FilterLogEvents), with backoff."""
