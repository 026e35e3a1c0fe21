#!/bin/sh
echo "${banner}"
