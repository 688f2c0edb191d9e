"""facevoice.data"""
