/* SPDX-License-Identifier: Apache-2.0 */
/* version: the one place the release number is written. */
#ifndef DOPPEL_BASE_VERSION_H
#define DOPPEL_BASE_VERSION_H

#define DOPPEL_VERSION "0.1.0"

#endif
